// Errors thrown by the rdpt library.
//
// Contract: library functions throw an rdpt::Error subclass, never print.
//   UsageError   - the caller asked for something invalid (bad option value, unknown name).
//   DataError    - an input file or record is malformed; the message names file, line, record id, field.
//   BackendError - a model or server failed or answered something unusable.
//   StoreError   - the score store is unreadable, of another schema, or a write failed.
// The CLI maps UsageError to exit code 2 and every other Error to exit code 1.
#pragma once

#include <stdexcept>
#include <string>

namespace rdpt {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class UsageError : public Error {
 public:
  using Error::Error;
};
class DataError : public Error {
 public:
  using Error::Error;
};
class BackendError : public Error {
 public:
  using Error::Error;
};
class StoreError : public Error {
 public:
  using Error::Error;
};

}  // namespace rdpt
