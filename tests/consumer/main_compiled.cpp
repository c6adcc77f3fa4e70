// The outside project again, linked against moodnet::compiled: the model and its layers come
// from the prebuilt library (their instantiations are extern here), so this links only if the
// package ships them.
#include <iostream>
#include <moodnet/moodnet.hpp>

int main() {
  const auto model = moodnet::zoo::build<moodnet::Cpu>("seed004-attempt3");
  const int64_t total = model.count_params().total;
  std::cout << "seed004-attempt3: " << total << " parameters\n";
  return total == 884833 ? 0 : 1;
}
