#include "app/config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace trib::app {
namespace {

TEST(config, defaults_are_a_local_single_node) {
    config cfg;
    EXPECT_EQ(cfg.node_id, 0);
    EXPECT_EQ(cfg.kafka_listen, (host_port{"127.0.0.1", 9092}));
    EXPECT_EQ(cfg.advertised(), cfg.kafka_listen);
    EXPECT_EQ(cfg.data_dir, "tributary-data");
    EXPECT_TRUE(validate(cfg));
}

TEST(config, yaml_sets_every_setting) {
    config cfg;
    auto r = apply_yaml(cfg, R"(
node:
  id: 7
  data_dir: /var/lib/tributary
kafka:
  listen: 0.0.0.0:19092
  advertised: broker-7.example.com:19092
log:
  level: debug
  format: json
)",
                        "test.yaml");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(cfg.node_id, 7);
    EXPECT_EQ(cfg.data_dir, "/var/lib/tributary");
    EXPECT_EQ(cfg.kafka_listen, (host_port{"0.0.0.0", 19092}));
    EXPECT_EQ(cfg.advertised(), (host_port{"broker-7.example.com", 19092}));
    EXPECT_EQ(cfg.log_level, spdlog::level::debug);
    EXPECT_EQ(cfg.log_format, log::format::json);
    EXPECT_TRUE(validate(cfg));
}

TEST(config, empty_yaml_keeps_defaults) {
    config cfg;
    ASSERT_TRUE(apply_yaml(cfg, "", "empty.yaml"));
    ASSERT_TRUE(apply_yaml(cfg, "# only a comment\n", "comment.yaml"));
    EXPECT_EQ(describe(cfg), describe(config{}));
}

// Every failure names the setting, the bad value and where it came from, on one line.
void expect_error(std::string_view yaml, config_errc code, std::string_view text) {
    config cfg;
    auto r = apply_yaml(cfg, yaml, "bad.yaml");
    ASSERT_FALSE(r) << yaml;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
}

TEST(config, unknown_key_is_rejected_with_its_line) {
    expect_error("kafka:\n  listen: 127.0.0.1:9092\n  lisen: 1.2.3.4:9\n",
                 config_errc::unknown_setting, "unknown setting 'kafka.lisen' (bad.yaml line 3)");
    expect_error("kafkaa:\n  listen: 127.0.0.1:9092\n", config_errc::unknown_setting,
                 "unknown setting 'kafkaa.listen'");
}

TEST(config, bad_ports_are_rejected) {
    for (auto port : {"0", "65536", "99999", "-1", "abc", "", "9092x", "1e3"}) {
        auto yaml = fmt::format("kafka:\n  listen: '127.0.0.1:{}'\n", port);
        expect_error(yaml, config_errc::invalid_value,
                     fmt::format("invalid value \"127.0.0.1:{}\" for kafka.listen", port));
    }
    expect_error("kafka:\n  listen: 127.0.0.1:0\n", config_errc::invalid_value,
                 "port must be an integer between 1 and 65535");
}

TEST(config, bad_hosts_are_rejected) {
    expect_error("kafka:\n  listen: 9092\n", config_errc::invalid_value, "expected host:port");
    expect_error("kafka:\n  listen: bad_host!:9092\n", config_errc::invalid_value,
                 "'bad_host!' is not a valid host name or IP address");
    expect_error("kafka:\n  listen: ::1:9092\n", config_errc::invalid_value, "in brackets");
    expect_error("kafka:\n  listen: '[::zz]:9092'\n", config_errc::invalid_value,
                 "is not an IPv6 address");
    expect_error("kafka:\n  advertised: 0.0.0.0:9092\n", config_errc::invalid_value,
                 "a wildcard address cannot be advertised");
}

TEST(config, ipv6_and_names_are_accepted) {
    config cfg;
    ASSERT_TRUE(apply_yaml(cfg, "kafka:\n  listen: '[::1]:9092'\n  advertised: localhost:9092\n",
                           "ok.yaml"));
    EXPECT_EQ(cfg.kafka_listen, (host_port{"::1", 9092}));
    EXPECT_EQ(cfg.kafka_listen.to_string(), "[::1]:9092");
    EXPECT_EQ(cfg.advertised().to_string(), "localhost:9092");
}

TEST(config, bad_node_id_level_and_format_are_rejected) {
    expect_error("node:\n  id: -1\n", config_errc::invalid_value,
                 "invalid value \"-1\" for node.id");
    expect_error("node:\n  id: 1.5\n", config_errc::invalid_value, "for node.id");
    expect_error("node:\n  id: 2147483648\n", config_errc::invalid_value, "for node.id");
    expect_error("log:\n  level: verbose\n", config_errc::invalid_value,
                 "invalid value \"verbose\" for log.level");
    expect_error("log:\n  format: xml\n", config_errc::invalid_value, "must be text or json");
}

TEST(config, missing_values_and_wrong_shapes_are_rejected) {
    expect_error("node:\n  data_dir:\n", config_errc::invalid_value,
                 "setting node.data_dir needs a value");
    expect_error("node:\n  id: [1, 2]\n", config_errc::invalid_value,
                 "setting node.id must be a single value");
    expect_error("node: 3\n", config_errc::invalid_yaml, "section 'node' must be a mapping");
    expect_error("- a\n- b\n", config_errc::invalid_yaml, "expected a mapping of sections");
    expect_error("node:\n  id: [1\n", config_errc::invalid_yaml, "invalid YAML");
}

TEST(config, advertised_may_be_reset_to_default) {
    config cfg;
    ASSERT_TRUE(apply_yaml(cfg, "kafka:\n  advertised: h:1\n", "a.yaml"));
    ASSERT_TRUE(apply_yaml(cfg, "kafka:\n  advertised:\n", "b.yaml"));
    EXPECT_EQ(cfg.advertised(), cfg.kafka_listen);
}

TEST(config, set_setting_reports_origin) {
    config cfg;
    auto r = set_setting(cfg, "kafka.listen", "localhost:70000", "flag --listen");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "invalid value \"localhost:70000\" for kafka.listen (flag --listen): port must be an "
              "integer between 1 and 65535");
    EXPECT_FALSE(set_setting(cfg, "no.such", "1", "flag --x"));
}

TEST(config, wildcard_listener_needs_an_advertised_address) {
    config cfg;
    ASSERT_TRUE(apply_yaml(cfg, "kafka:\n  listen: 0.0.0.0:9092\n", "w.yaml"));
    auto r = validate(cfg);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, config_errc::inconsistent_settings);
    EXPECT_NE(r.error().message.find("set kafka.advertised"), std::string::npos);
}

TEST(config, unreadable_file_is_reported) {
    config cfg;
    auto r = apply_yaml_file(cfg, "/nonexistent/tributary.yaml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, config_errc::unreadable_file);
    EXPECT_NE(r.error().message.find("/nonexistent/tributary.yaml"), std::string::npos);
}

TEST(config, every_setting_round_trips_through_describe) {
    config cfg;
    ASSERT_TRUE(apply_yaml(cfg, "node:\n  id: 3\nlog:\n  level: error\n", "x.yaml"));
    config copy;
    for (const auto& [name, value] : describe(cfg)) {
        ASSERT_TRUE(set_setting(copy, name, value, "describe")) << name << "=" << value;
    }
    EXPECT_EQ(describe(copy), describe(cfg));
}

}  // namespace
}  // namespace trib::app
