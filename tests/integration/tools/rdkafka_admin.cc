// librdkafka's own admin calls, as a user's program makes them (Debian's librdkafka 2.0.2),
// for the integration tests: the Python binding in Debian is too old to reach them.
//
//   rdkafka-admin BOOTSTRAP list-groups            one line per group: "<id> <state>"
//   rdkafka-admin BOOTSTRAP group-offsets GROUP    one line per partition: "<topic> <p> <offset>"
//
// group-offsets asks for every partition (a null partition list), which is the request
// librdkafka sends with trailing bytes. Exit status 1 with the error on stderr on failure.
#include <cstdio>
#include <cstring>
#include <string>

#include <librdkafka/rdkafka.h>

namespace {

constexpr int timeout_ms = 15000;

rd_kafka_t* connect(const char* bootstrap) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "config: %s\n", err);
        return nullptr;
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) std::fprintf(stderr, "client: %s\n", err);
    return rk;
}

// Waits for the admin result on `queue`; null (with the error printed) on failure.
rd_kafka_event_t* await_result(rd_kafka_queue_t* queue) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    if (!ev) {
        std::fprintf(stderr, "no result within the timeout\n");
        return nullptr;
    }
    if (rd_kafka_event_error(ev)) {
        std::fprintf(stderr, "error: %s\n", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return nullptr;
    }
    return ev;
}

rd_kafka_AdminOptions_t* options(rd_kafka_t* rk, rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(rk, op);
    char err[512];
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof err);
    return o;
}

int list_groups(rd_kafka_t* rk, rd_kafka_queue_t* queue) {
    rd_kafka_AdminOptions_t* o = options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(rk, o, queue);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t* ev = await_result(queue);
    if (!ev) return 1;
    const auto* result = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t errors = 0;
    const rd_kafka_error_t** errs = rd_kafka_ListConsumerGroups_result_errors(result, &errors);
    for (size_t i = 0; i < errors; ++i)
        std::fprintf(stderr, "error: %s\n", rd_kafka_error_string(errs[i]));
    size_t count = 0;
    const rd_kafka_ConsumerGroupListing_t** groups =
        rd_kafka_ListConsumerGroups_result_valid(result, &count);
    for (size_t i = 0; i < count; ++i) {
        std::printf(
            "%s %s\n", rd_kafka_ConsumerGroupListing_group_id(groups[i]),
            rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i])));
    }
    rd_kafka_event_destroy(ev);
    return errors == 0 ? 0 : 1;
}

int group_offsets(rd_kafka_t* rk, rd_kafka_queue_t* queue, const char* group) {
    rd_kafka_ListConsumerGroupOffsets_t* request =
        rd_kafka_ListConsumerGroupOffsets_new(group, nullptr);  // every partition
    rd_kafka_AdminOptions_t* o = options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, o, queue);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
    rd_kafka_event_t* ev = await_result(queue);
    if (!ev) return 1;
    size_t count = 0;
    const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &count);
    int status = 0;
    for (size_t i = 0; i < count; ++i) {
        if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
            std::fprintf(stderr, "error: %s\n", rd_kafka_error_string(e));
            status = 1;
            continue;
        }
        const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
        for (int j = 0; parts && j < parts->cnt; ++j) {
            const auto& p = parts->elems[j];
            if (p.err) {
                std::fprintf(stderr, "error: %s [%d]: %s\n", p.topic, p.partition,
                             rd_kafka_err2str(p.err));
                status = 1;
                continue;
            }
            std::printf("%s %d %lld\n", p.topic, p.partition, static_cast<long long>(p.offset));
        }
    }
    rd_kafka_event_destroy(ev);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s BOOTSTRAP list-groups | group-offsets GROUP\n", argv[0]);
        return 2;
    }
    rd_kafka_t* rk = connect(argv[1]);
    if (!rk) return 1;
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    std::string command = argv[2];
    int status = 2;
    if (command == "list-groups") {
        status = list_groups(rk, queue);
    } else if (command == "group-offsets" && argc == 4) {
        status = group_offsets(rk, queue, argv[3]);
    } else {
        std::fprintf(stderr, "unknown command\n");
    }
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
    return status;
}
