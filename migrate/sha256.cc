#include "migrate/sha256.h"

#include <sodium.h>

#include <cstdlib>

namespace microblog {
namespace migrate {

std::string Sha256Hex(std::string_view data) {
  // sodium_init is idempotent and thread-safe; hashing needs no randomness but
  // the library requires initialisation before any call.
  if (sodium_init() < 0) std::abort();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return std::string(hex);
}

}  // namespace migrate
}  // namespace microblog
