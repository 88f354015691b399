#include "admin/admin_server.h"

#include <gtest/gtest.h>

namespace trib::admin {
namespace {

// A node stopped by a signal during its start stops its admin server right after starting
// it: that must return every time, however the listening thread is scheduled.
TEST(admin_server, a_stop_right_after_start_returns) {
    for (int i = 0; i < 200; ++i) {
        auto s = admin_server::start("127.0.0.1", 0, sources{});
        ASSERT_TRUE(s.has_value()) << s.error().message;
        EXPECT_GT((*s)->port(), 0);
        (*s)->stop();
        (*s)->stop();  // a second stop (the destructor's) is harmless
    }
}

TEST(admin_server, an_address_in_use_is_refused_with_the_setting_named) {
    auto first = admin_server::start("127.0.0.1", 0, sources{});
    ASSERT_TRUE(first.has_value());
    auto second = admin_server::start("127.0.0.1", (*first)->port(), sources{});
    ASSERT_FALSE(second.has_value());
    EXPECT_NE(second.error().message.find("admin.listen"), std::string::npos)
        << second.error().message;
}

}  // namespace
}  // namespace trib::admin
