#include "app/data_dir.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

#include "app/config.h"

namespace trib::app {
namespace {

class data_dir_test : public testing::Test {
  protected:
    void SetUp() override {
        _root = std::filesystem::temp_directory_path() /
                fmt::format("trib-data-dir-test-{}-{}", ::getpid(),
                            testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(_root);
        std::filesystem::create_directories(_root);
    }
    void TearDown() override { std::filesystem::remove_all(_root); }
    std::filesystem::path _root;
};

TEST_F(data_dir_test, creates_missing_directories_and_stamps_node_id) {
    auto dir = _root / "a" / "b";
    auto lock = open_data_dir(dir, 5);
    ASSERT_TRUE(lock) << lock.error().message;
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    std::ifstream id(dir / "node_id");
    std::string text;
    std::getline(id, text);
    EXPECT_EQ(text, "5");
}

TEST_F(data_dir_test, second_open_is_refused_while_locked) {
    auto first = open_data_dir(_root, 1);
    ASSERT_TRUE(first);
    auto second = open_data_dir(_root, 1);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, config_errc::data_dir_locked);
    first = data_dir_lock();  // releasing the lock lets the next process in
    EXPECT_TRUE(open_data_dir(_root, 1));
}

TEST_F(data_dir_test, another_nodes_directory_is_refused) {
    ASSERT_TRUE(open_data_dir(_root, 1));
    auto r = open_data_dir(_root, 2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, config_errc::data_dir_foreign);
    EXPECT_NE(r.error().message.find("belongs to node 1, not node 2"), std::string::npos);
}

TEST_F(data_dir_test, damaged_node_id_is_refused) {
    std::ofstream(_root / "node_id") << "garbage";
    auto r = open_data_dir(_root, 1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, config_errc::data_dir_unusable);
    EXPECT_NE(r.error().message.find("damaged node_id"), std::string::npos);
}

TEST_F(data_dir_test, file_in_the_way_is_reported) {
    std::ofstream(_root / "file") << "x";
    auto r = open_data_dir(_root / "file", 1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, config_errc::data_dir_unusable);
    EXPECT_NE(r.error().message.find("invalid value \"" + (_root / "file").string() +
                                     "\" for node.data_dir"),
              std::string::npos)
        << r.error().message;
    auto below = open_data_dir(_root / "file" / "sub", 1);
    ASSERT_FALSE(below);
    EXPECT_NE(below.error().message.find("cannot create directory"), std::string::npos);
}

}  // namespace
}  // namespace trib::app
