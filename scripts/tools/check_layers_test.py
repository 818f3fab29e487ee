#!/usr/bin/python3
"""Self-test of check_layers.py: an include or a link against the
direction fails, one with it passes (on small trees of its own).

Run: /usr/bin/python3 scripts/tools/check_layers_test.py
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers  # noqa: E402


class LayersTest(unittest.TestCase):
    def setUp(self):
        self.tree = tempfile.TemporaryDirectory()
        self.addCleanup(self.tree.cleanup)
        self.saved_root = check_layers.ROOT
        check_layers.ROOT = self.tree.name
        self.addCleanup(setattr, check_layers, "ROOT", self.saved_root)
        for layer in check_layers.LAYERS:
            self.write(f"common/{layer}/CMakeLists.txt", f"add_library(microblog_{layer})\n")
            self.write(f"common/{layer}/{layer}.h", "")

    def write(self, path, text):
        full = os.path.join(self.tree.name, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def test_includes_with_the_direction_pass(self):
        self.write("common/service/x.cc", '#include "common/base/base.h"\n'
                                          '#include "common/rpc/rpc.h"\n')
        self.write("common/db/y.cc", '#include "common/exec/exec.h"\n')
        self.write("user-service/z.cc", '#include "common/service/service.h"\n')
        self.assertEqual(check_layers.check_includes(), [])
        self.assertEqual(check_layers.check_cmake_links(), [])

    def test_an_include_against_the_direction_fails(self):
        self.write("common/base/x.cc", '#include "common/service/service.h"\n')
        problems = check_layers.check_includes()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("common/base/x.cc:1", problems[0])
        self.assertIn("may not include common/service/", problems[0])

    def test_db_and_rpc_may_not_include_each_other(self):
        self.write("common/db/x.cc", '#include "common/rpc/rpc.h"\n')
        self.write("common/rpc/y.cc", '\n#include "common/db/db.h"\n')
        problems = check_layers.check_includes()
        self.assertEqual(len(problems), 2, problems)
        self.assertTrue(any("common/rpc/y.cc:2" in p for p in problems), problems)

    def test_common_may_not_include_a_service(self):
        self.write("common/exec/x.h", '#include "post-service/posts.h"\n')
        problems = check_layers.check_includes()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("a service's folder", problems[0])

    def test_unknown_or_flat_common_headers_fail(self):
        self.write("common/flat.h", "")
        self.write("user-service/z.cc", '#include "common/base/gone.h"\n')
        problems = check_layers.check_includes()
        self.assertTrue(any("outside its six library folders" in p for p in problems), problems)
        self.assertTrue(any("no such file" in p for p in problems), problems)

    def test_a_link_against_the_direction_fails(self):
        self.write("common/exec/CMakeLists.txt",
                   "target_link_libraries(microblog_exec PUBLIC microblog_db)\n")
        problems = check_layers.check_cmake_links()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("microblog_exec may not link microblog_db", problems[0])


if __name__ == "__main__":
    unittest.main()
