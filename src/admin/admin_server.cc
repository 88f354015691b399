#include "admin/admin_server.h"

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "admin/views.h"
#include "base/logging.h"
#include "base/thread_name.h"
#include "cluster/controller.h"
#include "cluster/partition_manager.h"

namespace trib::admin {

namespace {

using json = nlohmann::json;

void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(2) + "\n", "application/json");
}

void refuse(httplib::Response& res, int status, const std::string& message) {
    reply(res, status, {{"error", message}, {"status", status}});
}

constexpr const char* routes_help =
    "GET /v1/health/live, /v1/health/ready, /v1/cluster, /v1/brokers, /v1/topics, "
    "/v1/topics/{name}, /v1/groups, /v1/groups/{id}, /v1/log-level, /metrics; PUT "
    "/v1/log-level?level=LEVEL; POST "
    "/v1/topics/{name}/partitions/{index}/transfer-leadership?to=NODE (on its leader), "
    "/v1/topics/{name}/partitions/{index}/move?replicas=N,N,N (any node); DELETE "
    "/v1/topics/{name}/partitions/{index}/move (cancels it)";

// "4,2,3" -> node ids; nullopt when it is not such a list.
std::optional<std::vector<int32_t>> parse_ids(const std::string& text) {
    std::vector<int32_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            size_t used = 0;
            int id = std::stoi(item, &used);
            if (used != item.size() || id < 0) return std::nullopt;
            out.push_back(id);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (out.empty()) return std::nullopt;
    return out;
}

}  // namespace

struct admin_server::impl {
    sources src;
    httplib::Server http;
    std::thread thread;
    std::atomic<bool> listening_done{false};

    explicit impl(sources s) : src(std::move(s)) {}
    void transfer_leadership(const httplib::Request& req, httplib::Response& res);
    void move(const httplib::Request& req, httplib::Response& res, bool cancel);
    void decommission(const httplib::Request& req, httplib::Response& res, bool on);
    // Runs `request` at the controller leader and waits (this HTTP thread) for its answer;
    // false (the reply written) when it failed.
    bool ask_controller(cluster::controller_request request, httplib::Response& res);

    void routes() {
        http.new_task_queue = [] { return new httplib::ThreadPool(2); };
        http.set_payload_max_length(size_t{64} * 1024);
        http.set_read_timeout(5, 0);
        // httplib's default is SO_REUSEPORT, which lets a second node bind the same port and
        // take half its requests: SO_REUSEADDR alone refuses it, yet allows a quick restart.
        http.set_socket_options([](int sock) {
            int yes = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        });
        http.Get("/v1/health/live", [](const httplib::Request&, httplib::Response& res) {
            reply(res, 200, {{"live", true}});
        });
        http.Get("/v1/health/ready", [this](const httplib::Request&, httplib::Response& res) {
            auto reasons = not_ready_reasons(src);
            reply(res, reasons.empty() ? 200 : 503,
                  {{"ready", reasons.empty()}, {"reasons", reasons}});
        });
        http.Get("/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
            reply(res, 200, cluster_view(src));
        });
        http.Get("/v1/brokers", [this](const httplib::Request&, httplib::Response& res) {
            reply(res, 200, brokers_view(src));
        });
        http.Get("/v1/topics", [this](const httplib::Request&, httplib::Response& res) {
            reply(res, 200, topics_view(src));
        });
        http.Get(R"(/v1/topics/([^/]+))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                     std::string name = req.matches[1];
                     if (auto view = topic_view(src, name)) {
                         reply(res, 200, *view);
                     } else {
                         refuse(res, 404, fmt::format("no topic named '{}'", name));
                     }
                 });
        http.Post(R"(/v1/topics/([^/]+)/partitions/(\d+)/transfer-leadership)",
                  [this](const httplib::Request& req, httplib::Response& res) {
                      transfer_leadership(req, res);
                  });
        http.Post(
            R"(/v1/topics/([^/]+)/partitions/(\d+)/move)",
            [this](const httplib::Request& req, httplib::Response& res) { move(req, res, false); });
        http.Delete(
            R"(/v1/topics/([^/]+)/partitions/(\d+)/move)",
            [this](const httplib::Request& req, httplib::Response& res) { move(req, res, true); });
        http.Post(R"(/v1/brokers/(\d+)/decommission)",
                  [this](const httplib::Request& req, httplib::Response& res) {
                      decommission(req, res, true);
                  });
        http.Delete(R"(/v1/brokers/(\d+)/decommission)",
                    [this](const httplib::Request& req, httplib::Response& res) {
                        decommission(req, res, false);
                    });
        http.Get("/v1/groups", [this](const httplib::Request&, httplib::Response& res) {
            reply(res, 200, groups_view(src));
        });
        http.Get(R"(/v1/groups/([^/]+))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                     std::string id = req.matches[1];
                     if (auto view = group_view(src, id)) {
                         reply(res, 200, *view);
                     } else {
                         refuse(res, 404,
                                fmt::format("no group '{}' is coordinated by node {} (GET "
                                            "/v1/groups on each node lists its groups)",
                                            id, src.self));
                     }
                 });
        http.Get("/v1/log-level", [](const httplib::Request&, httplib::Response& res) {
            auto name = spdlog::level::to_string_view(log::level());
            reply(res, 200, {{"level", std::string(name.data(), name.size())}});
        });
        http.Put("/v1/log-level", [](const httplib::Request& req, httplib::Response& res) {
            std::string wanted = req.get_param_value("level");
            if (wanted.empty() && !req.body.empty()) {
                json body = json::parse(req.body, nullptr, false);
                if (body.is_object() && body.contains("level") && body["level"].is_string()) {
                    wanted = body["level"].get<std::string>();
                }
            }
            auto level = log::parse_level(wanted);
            if (!level) {
                refuse(res, 400,
                       fmt::format("level must be one of trace, debug, info, warn, error, "
                                   "critical, off (as ?level= or a JSON body), not \"{}\"",
                                   wanted));
                return;
            }
            log::set_level(*level);
            log::get("admin")->warn("log level set to {} through the admin API", wanted);
            reply(res, 200, {{"level", wanted}});
        });
        http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(metrics_text(src), "text/plain; version=0.0.4");
        });
        http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;  // a handler's own error document
            std::string why = res.status == 404   ? "no such route"
                              : res.status == 405 ? "method not allowed"
                                                  : "bad request";
            if (res.status == 400 && (req.method == "POST" || req.method == "PUT") &&
                !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
                why = "no Content-Length: send a body, even an empty one (curl: -d '')";
            }
            refuse(res, res.status,
                   fmt::format("{} {}: {} (routes: {})", req.method, req.path, why, routes_help));
        });
        http.set_exception_handler(
            [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
                std::string what = "unknown error";
                try {
                    std::rethrow_exception(std::move(ep));
                } catch (const std::exception& e) {
                    what = e.what();
                } catch (...) {
                }
                log::get("admin")->error("admin API {} {} failed: {}", req.method, req.path, what);
                refuse(res, 500, what);
            });
    }
};

void admin_server::impl::transfer_leadership(const httplib::Request& req, httplib::Response& res) {
    std::string topic = req.matches[1];
    int32_t index = -1;
    int32_t to = -1;
    try {
        index = std::stoi(req.matches[2]);
        to = std::stoi(req.get_param_value("to"));
    } catch (const std::exception&) {
        refuse(res, 400, "give the node to lead it as ?to=NODE");
        return;
    }
    auto part = src.partitions->get(topic, index);
    if (!part) {
        refuse(res, 404, fmt::format("node {} holds no replica of {}-{}", src.self, topic, index));
        return;
    }
    result<void, std::string> started = unexpected(std::string("not run"));
    // Raft state lives on the Raft loop: the transfer starts there, this thread waits.
    src.controller->run_and_wait([&] { started = part->transfer_leadership(to); });
    if (!started) {
        refuse(res, 409, fmt::format("{}-{}: {}", topic, index, started.error()));
        return;
    }
    // Accepted: the transfer completes within an election timeout, or leadership stays.
    reply(res, 202, {{"topic", topic}, {"partition", index}, {"from", src.self}, {"to", to}});
}

void admin_server::impl::move(const httplib::Request& req, httplib::Response& res, bool cancel) {
    cluster::controller_request request{.kind = cluster::request_kind::reassign_partition,
                                        .topic = req.matches[1]};
    try {
        request.partitions = std::stoi(req.matches[2]);
    } catch (const std::exception&) {
        refuse(res, 400, "bad partition index");
        return;
    }
    if (!cancel) {
        auto replicas = parse_ids(req.get_param_value("replicas"));
        if (!replicas) {
            refuse(res, 400, "give the new replicas as ?replicas=NODE,NODE,... (node ids)");
            return;
        }
        request.assignment.push_back(*replicas);
    }
    if (!ask_controller(request, res)) return;
    json body{{"topic", request.topic}, {"partition", request.partitions}};
    if (cancel) {
        body["cancelled"] = true;
    } else {
        body["moving_to"] = request.assignment.front();
    }
    reply(res, 202, body);
}

void admin_server::impl::decommission(const httplib::Request& req, httplib::Response& res,
                                      bool on) {
    cluster::controller_request request{.kind = on ? cluster::request_kind::decommission_broker
                                                   : cluster::request_kind::recommission_broker};
    try {
        request.broker.id = std::stoi(req.matches[1]);
    } catch (const std::exception&) {
        refuse(res, 400, "bad broker id");
        return;
    }
    if (!ask_controller(request, res)) return;
    reply(res, 202, {{"broker", request.broker.id}, {"decommissioning", on}});
}

bool admin_server::impl::ask_controller(cluster::controller_request request,
                                        httplib::Response& res) {
    // The controller leader decides; this HTTP thread waits for its answer.
    auto answer = std::make_shared<std::promise<cluster::controller_response>>();
    auto got = answer->get_future();
    src.controller->submit(
        std::move(request), std::chrono::seconds(10),
        [answer](const cluster::controller_response& r) { answer->set_value(r); });
    if (got.wait_for(std::chrono::seconds(15)) != std::future_status::ready) {
        refuse(res, 503, "the controller did not answer in time");
        return false;
    }
    cluster::controller_response r = got.get();
    int status = 202;
    switch (r.code) {
        case cluster::errc::none:
            break;
        case cluster::errc::unknown_topic:
        case cluster::errc::unknown_broker:
            status = 404;
            break;
        case cluster::errc::invalid_replica_assignment:
        case cluster::errc::invalid_request:
            status = 400;
            break;
        case cluster::errc::no_reassignment:
            status = 409;
            break;
        default:
            status = 503;  // no controller leader now, or it did not answer in time
            break;
    }
    if (status != 202) {
        refuse(res, status,
               r.message.empty() ? cluster::make_error_code(r.code).message() : r.message);
        return false;
    }
    return true;
}

admin_server::admin_server(std::unique_ptr<impl> i) : _impl(std::move(i)) {}

admin_server::~admin_server() {
    stop();
}

result<std::unique_ptr<admin_server>, error> admin_server::start(const std::string& host,
                                                                 uint16_t port, sources src) {
    auto i = std::make_unique<impl>(std::move(src));
    i->routes();
    int bound =
        port == 0 ? i->http.bind_to_any_port(host) : (i->http.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
        return unexpected(
            error{std::make_error_code(std::errc::address_in_use),
                  fmt::format("cannot listen on {}:{} for the admin API (admin.listen):"
                              " the address is in use or not local",
                              host, port)});
    }
    std::unique_ptr<admin_server> s(new admin_server(std::move(i)));
    s->_port = static_cast<uint16_t>(bound);
    impl* raw = s->_impl.get();
    raw->thread = std::thread([raw] {
        name_this_thread("admin-http");
        raw->http.listen_after_bind();
        raw->listening_done = true;
    });
    return s;
}

void admin_server::stop() {
    if (_impl && _impl->thread.joinable()) {
        // httplib's stop() does nothing until the listening loop has begun, so a stop that
        // comes right after start (a signal during start) is repeated until the loop ends.
        while (!_impl->listening_done) {
            _impl->http.stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        _impl->thread.join();
    }
}

}  // namespace trib::admin
