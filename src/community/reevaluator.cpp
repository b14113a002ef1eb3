#include "community/reevaluator.hpp"

namespace gh::community {

Reevaluator::Reevaluator(Executor executor, CommunityService& service, std::chrono::milliseconds idle_poll)
    : m_loop(std::make_shared<DueLoop>(
          std::move(executor), "community.reevaluator", idle_poll, [&service] { return service.reevaluate_batch(); },
          [&service] { return service.next_reevaluation_in(); })) {}

void Reevaluator::start() {
  m_loop->start();
}

void Reevaluator::wake() {
  m_loop->wake();
}

bus::Consumer Reevaluator::consumer() {
  std::weak_ptr<DueLoop> weak = m_loop;
  bus::Consumer c;
  c.name = "community.reevaluation_wakes";
  c.topics = {std::string(reevaluation_queued_topic)};
  // The queue rows came with the event, in its transaction: there is nothing to write.
  c.apply = [](store::Tx&, const bus::Event&) {};
  c.committed = [weak] {
    if (auto loop = weak.lock()) loop->wake();
  };
  return c;
}

}  // namespace gh::community
