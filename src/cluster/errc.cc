#include "cluster/errc.h"

#include <string>

namespace trib::cluster {

namespace {
class cluster_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "cluster"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::unknown_topic:
                return "unknown topic";
            case errc::topic_exists:
                return "topic already exists";
            case errc::invalid_topic_name:
                return "invalid topic name";
            case errc::invalid_partitions:
                return "invalid number of partitions";
            case errc::invalid_replication_factor:
                return "invalid replication factor";
            case errc::invalid_config:
                return "invalid topic configuration";
            case errc::storage_failure:
                return "storage failure";
            case errc::none:
                return "success";
            case errc::not_controller:
                return "no controller leader";
            case errc::timed_out:
                return "the controller did not answer in time";
            case errc::invalid_replica_assignment:
                return "invalid replica assignment";
            case errc::unknown_broker:
                return "unknown broker";
            case errc::duplicate_broker:
                return "node id in use by another live process";
            case errc::invalid_request:
                return "invalid controller request";
            case errc::no_reassignment:
                return "no partition reassignment in progress";
        }
        return "unknown cluster error";
    }
};
}  // namespace

const std::error_category& cluster_category() {
    static const cluster_category_impl instance;
    return instance;
}

}  // namespace trib::cluster
