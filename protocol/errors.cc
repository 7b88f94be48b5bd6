#include "protocol/errors.h"

namespace strata::protocol {

const char* ErrorName(ErrorCode code) {
  switch (code) {
#define STRATA_KAFKA_ERROR_NAME_(code, enumerator, name, retriable) \
  case ErrorCode::enumerator:                                      \
    return name;
    STRATA_KAFKA_ERROR_CODES(STRATA_KAFKA_ERROR_NAME_)
#undef STRATA_KAFKA_ERROR_NAME_
  }
  return "UNKNOWN_ERROR_CODE";
}

bool IsRetriable(ErrorCode code) {
  switch (code) {
#define STRATA_KAFKA_ERROR_RETRIABLE_(code, enumerator, name, retriable) \
  case ErrorCode::enumerator:                                           \
    return retriable;
    STRATA_KAFKA_ERROR_CODES(STRATA_KAFKA_ERROR_RETRIABLE_)
#undef STRATA_KAFKA_ERROR_RETRIABLE_
  }
  return false;
}

}  // namespace strata::protocol
