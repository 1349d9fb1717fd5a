#include "rdpt/progress.h"

namespace rdpt {
Progress& null_progress() {
  static Progress p;
  return p;
}
}  // namespace rdpt
