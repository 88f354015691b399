// The Kafka protocol error codes the broker returns, by their protocol names.
#pragma once

#include <cstdint>

namespace trib::kafka::error_code {

constexpr int16_t none = 0;
constexpr int16_t offset_out_of_range = 1;
constexpr int16_t corrupt_message = 2;
constexpr int16_t unknown_topic_or_partition = 3;
constexpr int16_t invalid_fetch_size = 4;
constexpr int16_t leader_not_available = 5;
constexpr int16_t not_leader_or_follower = 6;
constexpr int16_t request_timed_out = 7;
constexpr int16_t message_too_large = 10;
constexpr int16_t offset_metadata_too_large = 12;
constexpr int16_t coordinator_load_in_progress = 14;
constexpr int16_t coordinator_not_available = 15;
constexpr int16_t not_coordinator = 16;
constexpr int16_t invalid_topic_exception = 17;
constexpr int16_t record_list_too_large = 18;
constexpr int16_t not_enough_replicas = 19;
constexpr int16_t invalid_required_acks = 21;
constexpr int16_t illegal_generation = 22;
constexpr int16_t inconsistent_group_protocol = 23;
constexpr int16_t invalid_group_id = 24;
constexpr int16_t unknown_member_id = 25;
constexpr int16_t invalid_session_timeout = 26;
constexpr int16_t rebalance_in_progress = 27;
constexpr int16_t invalid_commit_offset_size = 28;
constexpr int16_t invalid_timestamp = 32;
constexpr int16_t unsupported_version = 35;
constexpr int16_t topic_already_exists = 36;
constexpr int16_t invalid_partitions = 37;
constexpr int16_t invalid_replication_factor = 38;
constexpr int16_t invalid_replica_assignment = 39;
constexpr int16_t invalid_config = 40;
constexpr int16_t not_controller = 41;
constexpr int16_t invalid_request = 42;
constexpr int16_t unsupported_for_message_format = 43;
constexpr int16_t out_of_order_sequence_number = 45;
constexpr int16_t duplicate_sequence_number = 46;
constexpr int16_t invalid_producer_epoch = 47;
constexpr int16_t invalid_txn_state = 48;
constexpr int16_t transactional_id_authorization_failed = 53;
constexpr int16_t kafka_storage_error = 56;
constexpr int16_t unknown_producer_id = 59;
constexpr int16_t group_id_not_found = 69;
constexpr int16_t fenced_leader_epoch = 74;
constexpr int16_t unknown_leader_epoch = 75;
constexpr int16_t offset_not_available = 78;
constexpr int16_t fetch_session_id_not_found = 70;
constexpr int16_t invalid_fetch_session_epoch = 71;
constexpr int16_t non_empty_group = 68;
constexpr int16_t member_id_required = 79;
constexpr int16_t fenced_instance_id = 82;
constexpr int16_t no_reassignment_in_progress = 85;
constexpr int16_t group_subscribed_to_topic = 86;
constexpr int16_t unknown_topic_id = 100;
constexpr int16_t unstable_offset_commit = 88;
constexpr int16_t group_max_size_reached = 81;
constexpr int16_t unsupported_endpoint_type = 119;
constexpr int16_t invalid_record = 87;
constexpr int16_t unknown_server_error = -1;

}  // namespace trib::kafka::error_code
