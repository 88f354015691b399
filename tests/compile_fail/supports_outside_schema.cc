// Must not compile: a handler cannot claim Produce v99, which the schema does not define
// (tests/CMakeLists.txt checks the compiler's complaint).
#include "kafka/protocol/produce.h"
#include "kafka/protocol/supported_apis.h"

constexpr auto claimed =
    trib::kafka::protocol::supports<trib::kafka::protocol::produce_request>(0, 99);
