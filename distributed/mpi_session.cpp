#include "distributed/mpi_session.hpp"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <streambuf>

#include "distributed/mpi_reducer.hpp"

namespace snode {
namespace {

// Swallows what is written to it (std::cout of ranks other than 0).
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

bool session_started = false;

}  // namespace

void CheckMpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  int error_class = code;
  MPI_Error_class(code, &error_class);
  throw MpiError(std::string(call) + " failed: " + std::string(text, length) + " (error class " +
                 std::to_string(error_class) + ")");
}

bool StartedByMpiLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

MpiSession::MpiSession(int& argc, char**& argv) {
  Require(!session_started, "MPI is initialised once per process: a second MpiSession");
  session_started = true;
  int provided = 0;
  CheckMpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // From here on, failures return codes (CheckMpi) instead of aborting the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  try {
    if (provided < MPI_THREAD_FUNNELED) {
      throw MpiError("MPI_Init_thread: this MPI library does not provide MPI_THREAD_FUNNELED");
    }
    CheckMpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    CheckMpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    CheckMpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    CheckMpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  } catch (...) {
    MPI_Abort(MPI_COMM_WORLD, 1);
    throw;
  }
}

MpiSession::~MpiSession() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  MPI_Finalize();
}

void MpiSession::Abort(int code) const {
  std::cout.flush();
  std::cerr.flush();
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; should it, the process ends here
}

int RunOnRanks(int& argc, char**& argv, const std::function<int(GradientReducer&)>& main_fn) {
  if (!StartedByMpiLauncher()) return main_fn(SerialReduction());
  std::unique_ptr<MpiSession> session;
  std::unique_ptr<MpiReducer> reducer;
  try {
    session = std::make_unique<MpiSession>(argc, argv);
    reducer = std::make_unique<MpiReducer>(session->comm());
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    if (session) session->Abort(1);
    return 1;
  }
  NullBuffer null;
  std::streambuf* const cout_buffer = std::cout.rdbuf();
  if (session->rank() != 0) std::cout.rdbuf(&null);
  const int code = main_fn(*reducer);
  std::cout.rdbuf(cout_buffer);
  if (code != 0 && session->size() > 1) session->Abort(code);
  // Ranks done early (the stiffness study's ranks while rank 0 reports) wait here without
  // spinning; MPI_Finalize's own wait would poll and take the CPU from the ranks still working.
  try {
    MPI_Request request = MPI_REQUEST_NULL;
    CheckMpi(MPI_Ibarrier(session->comm(), &request), "MPI_Ibarrier");
    WaitIdly(request, "MPI_Ibarrier");
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    session->Abort(1);
  }
  return code;
}

}  // namespace snode
