// The test runner: Catch2's own main, with two warnings always on.  NoTests: a filter that matches
// no test case fails (Catch 2.13 otherwise exits 0, so a ctest entry whose name was split or
// renamed would pass having run nothing).  NoAssertions: a test case that asserts nothing fails.
// Catch's -w flag takes only one of these, so they are set here rather than by ctest.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  session.configData().warnings = static_cast<Catch::WarnAbout::What>(
      session.configData().warnings | Catch::WarnAbout::NoTests | Catch::WarnAbout::NoAssertions);
  return session.run();
}
