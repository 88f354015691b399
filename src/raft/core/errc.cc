#include <string>

#include "raft/core/types.h"

namespace trib::raft {
namespace {

class category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "raft"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::not_leader:
                return "not the leader";
            case errc::leadership_transferring:
                return "leadership is being transferred";
            case errc::too_much_uncommitted:
                return "too many uncommitted bytes";
            case errc::config_change_pending:
                return "a membership change is pending";
            case errc::no_commit_in_term:
                return "the leader has not committed in its term yet";
            case errc::invalid_config_change:
                return "invalid membership change";
            case errc::invalid_batch:
                return "not a well-formed record batch";
            case errc::unknown_node:
                return "not a voter";
            case errc::offset_out_of_range:
                return "offset outside the log";
        }
        return "unknown raft error " + std::to_string(code);
    }
};

}  // namespace

const std::error_category& raft_category() {
    static const category c;
    return c;
}

std::string_view to_string(msg_type t) {
    switch (t) {
        case msg_type::pre_vote:
            return "pre_vote";
        case msg_type::pre_vote_response:
            return "pre_vote_response";
        case msg_type::vote:
            return "vote";
        case msg_type::vote_response:
            return "vote_response";
        case msg_type::append:
            return "append";
        case msg_type::append_response:
            return "append_response";
        case msg_type::heartbeat:
            return "heartbeat";
        case msg_type::heartbeat_response:
            return "heartbeat_response";
        case msg_type::snapshot:
            return "snapshot";
        case msg_type::timeout_now:
            return "timeout_now";
    }
    return "?";
}

}  // namespace trib::raft
