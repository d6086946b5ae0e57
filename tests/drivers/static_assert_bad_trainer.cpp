// Must NOT compile: the callable takes an int instead of `const bomf::Hyperparameters&`.
// tests/drivers/CMakeLists.txt checks the static_assert's message.
#include "bomf/drivers/training_problem.hpp"

int main() {
  bomf::SearchSpace space;
  space.add_continuous("learning_rate", 1e-6, 1e-3, bomf::Scale::log);
  auto problem = bomf::make_training_problem(space, {{"accuracy", bomf::Direction::maximize}},
                                             [](int epochs) { return epochs; });
  (void)problem;
  return 0;
}
