// A loopback TCP port for a test server that no other test, and no outgoing connection, can
// take before the server binds it. A port "found free" by binding port 0 comes from the
// kernel's ephemeral range, where any connect() or parallel test may grab it first. These
// come from below that range and are claimed with a lock file every test process honours
// (tests/integration/ports.py uses the same directory and range); the claim lasts until
// the process exits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

namespace trib::test {

inline constexpr uint16_t reserved_port_low = 20000;
inline constexpr uint16_t reserved_port_high = 32000;  // the ephemeral range starts at 32768

inline bool port_bindable(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

inline uint16_t reserved_port() {
    const std::filesystem::path dir = "/tmp/tributary-test-ports";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    static std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> pick(reserved_port_low, reserved_port_high - 1);
    for (int attempt = 0; attempt < 4000; ++attempt) {
        auto port = static_cast<uint16_t>(pick(rng));
        auto lock = dir / std::to_string(port);
        int fd = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !port_bindable(port)) {
            ::close(fd);
            continue;
        }
        return port;  // fd stays open: the claim is released when this process exits
    }
    throw std::runtime_error("no free test port in the reserved range");
}

}  // namespace trib::test
