#pragma once
// MPI for snode's programs: one MpiSession per process (MPI_Init_thread with
// MPI_THREAD_FUNNELED: threads inside a rank compute, only the main thread calls MPI), and its
// communicator, a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, so a failed MPI call is a
// snode exception (MpiError: the call and MPI's own error string) rather than MPI's default abort.
//
// Built only with SNODE_MPI (CMake option, ON when MPI is found). Processes not started by an MPI
// launcher never initialise MPI (StartedByMpiLauncher): a plain run is the serial program.
//
// Faults: a rank that dies takes the job with it through mpirun (OpenMPI's mpirun kills the other
// ranks and exits non-zero when one process ends abnormally; docs/distributed.md). A rank that
// fails with an error must end the job too, with MPI_Abort (RunOnRanks does), never MPI_Finalize:
// finalising while the others wait in a collective would hang them.

#include <mpi.h>

#include <functional>
#include <string>

#include "core/errors.hpp"
#include "core/gradient_reducer.hpp"

namespace snode {

// A failed MPI call: "<call> failed: <MPI_Error_string> (error class N)".
class MpiError : public Error {
 public:
  explicit MpiError(const std::string& message) : Error(message) {}
};

// Throws MpiError for any code but MPI_SUCCESS.
void CheckMpi(int code, const char* call);

// True when an MPI launcher started this process (OpenMPI's OMPI_COMM_WORLD_SIZE, PMIx's
// PMIX_RANK, or PMI_SIZE of MPICH/Hydra and Slurm).
bool StartedByMpiLauncher();

class MpiSession {
 public:
  // Initialises MPI (once per process; a second session is a ConfigError).
  MpiSession(int& argc, char**& argv);
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession();  // frees the communicator, MPI_Finalize

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm comm() const { return comm_; }  // MPI_ERRORS_RETURN set

  // Ends every rank of the job with this exit code (MPI_Abort); does not return.
  [[noreturn]] void Abort(int code) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

// Runs a program's main as one rank of a data-parallel job. Not under an MPI launcher:
// main_fn(SerialReduction()), MPI untouched. Under one: an MpiSession and an MpiReducer over its
// communicator; ranks other than 0 write nothing to std::cout (errors on std::cerr stay); a
// non-zero code from any rank ends the whole job through MPI_Abort, so no rank is left waiting;
// ranks that end with 0 wait for each other idly (MPI_Ibarrier, WaitIdly) before MPI_Finalize.
// An MPI error while starting is printed as "error: ..." and returns 1.
int RunOnRanks(int& argc, char**& argv, const std::function<int(GradientReducer&)>& main_fn);

}  // namespace snode
