// SHA-256 of migration files, recorded in schema_migrations.checksum so that an
// applied migration that was edited afterwards is detected.
#ifndef MICROBLOG_MIGRATE_SHA256_H_
#define MICROBLOG_MIGRATE_SHA256_H_

#include <string>
#include <string_view>

namespace microblog {
namespace migrate {

// Lower-case hex SHA-256 of `data` (libsodium). Aborts if libsodium cannot be
// initialised, which only happens when the system has no entropy source.
std::string Sha256Hex(std::string_view data);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SHA256_H_
