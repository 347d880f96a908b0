#pragma once
// Runs independent jobs on a few threads. Results do not depend on the thread count: every job
// writes only its own slot, and callers collect the slots in job order.

#include <cstddef>
#include <functional>

namespace snode {

// Calls job(i) for i = 0 … count − 1 on `threads` threads (≤ 1: in this thread, in order),
// handing out indices in increasing order. progress(done), when set, is called after each job
// from the calling thread's side under a lock (never concurrently). The first exception a job
// throws is rethrown here after every thread has stopped taking new jobs.
void ParallelFor(std::size_t count, int threads, const std::function<void(std::size_t)>& job,
                 const std::function<void(std::size_t done)>& progress = {});

// The number of threads the machine offers (at least 1).
int HardwareThreads();

}  // namespace snode
