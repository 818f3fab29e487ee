#!/usr/bin/python3
"""Self-test of check_links.py: GitHub's slugs and what counts as broken.

Run: /usr/bin/python3 scripts/tools/check_links_test.py
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_links  # noqa: E402


class SlugTest(unittest.TestCase):
    def test_github_rules(self):
        self.assertEqual(check_links.slug("Behind PgBouncer (transaction pooling)"),
                         "behind-pgbouncer-transaction-pooling")
        self.assertEqual(check_links.slug("Scaling up, scaling down and rollouts"),
                         "scaling-up-scaling-down-and-rollouts")
        self.assertEqual(check_links.slug("Past one database: the sharding path (Citus, written, not built)"),
                         "past-one-database-the-sharding-path-citus-written-not-built")
        self.assertEqual(check_links.slug("snake_case and kebab-case"), "snake_case-and-kebab-case")
        self.assertEqual(check_links.slug("Deleting a user → posts"), "deleting-a-user--posts")

    def test_heading_markup_is_dropped(self):
        found = check_links.anchors("# The `migrate` tool\n## [Link](x.md) **bold**\n")
        self.assertEqual(found, {"the-migrate-tool", "link-bold"})

    def test_repeated_headings_are_numbered(self):
        found = check_links.anchors("# Tests\n## Tests\n### Tests\n")
        self.assertEqual(found, {"tests", "tests-1", "tests-2"})

    def test_setext_headings_and_html_anchors(self):
        found = check_links.anchors('Title\n=====\n\nSub\n---\n<a name="here"></a>\n')
        self.assertEqual(found, {"title", "sub", "here"})

    def test_headings_in_code_blocks_do_not_count(self):
        self.assertEqual(check_links.anchors("```sh\n# not a heading\n```\n# Real\n"), {"real"})


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = self.dir.name
        os.makedirs(os.path.join(self.root, "docs"))
        self.write("docs/ops.md", "# Operations\n## Read replicas\n")
        self.checker = check_links.Checker(self.root)

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        with open(os.path.join(self.root, name), "w", encoding="utf-8") as f:
            f.write(text)
        return os.path.join(self.root, name)

    def problems(self, text):
        return self.checker.check(self.write("README.md", text))

    def test_good_links_pass(self):
        self.assertEqual(self.problems(
            "# Top\nSee [ops](docs/ops.md), [replicas](docs/ops.md#read-replicas),\n"
            "[top](#top), [folder](docs/), [root](/docs/ops.md) and ![x](docs/ops.md \"title\").\n"
            "[ref]: docs/ops.md#operations\n"), [])

    def test_external_links_are_skipped(self):
        self.assertEqual(self.problems(
            "[a](https://example.com/x#y) [b](http://x) [c](mailto:a@example.com)\n"), [])

    def test_missing_file_fails_with_its_line(self):
        self.assertEqual(self.problems("# Top\n\n[gone](docs/gone.md)\n"),
                         ["README.md:3: docs/gone.md: no such file: docs/gone.md"])

    def test_missing_anchor_fails(self):
        self.assertEqual(self.problems("[x](docs/ops.md#scaling) [y](#nowhere)\n"), [
            "README.md:1: #nowhere: no heading or anchor #nowhere in README.md",
            "README.md:1: docs/ops.md#scaling: no heading or anchor #scaling in docs/ops.md",
        ])

    def test_links_in_code_are_not_links(self):
        self.assertEqual(self.problems("`[x](gone.md)`\n```\n[y](gone.md)\n```\n"), [])

    def test_link_text_may_wrap(self):
        self.assertEqual(self.problems("[a\nb](gone.md)\n"),
                         ["README.md:2: gone.md: no such file: gone.md"])


if __name__ == "__main__":
    unittest.main()
