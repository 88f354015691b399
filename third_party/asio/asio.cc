// Compiles asio's implementation once (ASIO_SEPARATE_COMPILATION), so that files that use
// asio parse only its declarations: a large saving on two-core builds.
#include <asio/impl/src.hpp>
