// A throwaway folder of migration files (<path>/<db>/NNNN_name.up.sql and
// .down.sql), removed with the object: for the tests of `migrate`.
//
//   MigrationsDir dir;
//   dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
//   Migrate({"up", "--migrations-dir", dir.path()});
#ifndef MICROBLOG_TESTS_SUPPORT_MIGRATIONS_DIR_H_
#define MICROBLOG_TESTS_SUPPORT_MIGRATIONS_DIR_H_

#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.h"

namespace microblog {
namespace test_support {

class MigrationsDir {
 public:
  const std::string& path() const { return path_; }

  // The path of <db>/<file>.
  std::string Path(const std::string& db, const std::string& file) const {
    return path_ + "/" + db + "/" + file;
  }
  // Writes <db>/<file>.
  void Write(const std::string& db, const std::string& file, const std::string& content) const {
    std::filesystem::create_directories(path_ + "/" + db);
    std::ofstream(Path(db, file), std::ios::binary | std::ios::trunc) << content;
  }
  void Remove(const std::string& db, const std::string& file) const {
    std::filesystem::remove(Path(db, file));
  }
  // Writes NNNN_name.up.sql and .down.sql for `db`.
  void Add(const std::string& db, const std::string& label, const std::string& up,
           const std::string& down) const {
    Write(db, label + ".up.sql", up);
    Write(db, label + ".down.sql", down);
  }

 private:
  TempDir dir_{"mbmig"};
  std::string path_ = dir_.path().string();
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_MIGRATIONS_DIR_H_
