// A worker that drains for a reload gives the CPU to the generation that replaced it: from
// then on its work is handing idle connections over and finishing what is in flight, while
// the new generation serves every new request. On a busy machine the two compete for the
// same cores, and the serving generation's requests would wait for the draining one's.
#pragma once

namespace sockhost {

// The nice value every thread of a draining worker takes (the lowest priority).
inline constexpr int kDrainingNice = 19;

// Lowers the CPU priority of every thread of this process to kDrainingNice. Raising one's
// own nice value needs no privilege; a thread that cannot be changed (it just ended) is
// skipped. Threads started later inherit the value of the thread that starts them.
void lower_priority_for_drain();

}  // namespace sockhost
