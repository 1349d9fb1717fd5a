// Internal to rdpt_pipeline: one store transaction around a bulk write.
#pragma once

#include "rdpt/store.h"

namespace rdpt::detail {

// Runs fn inside Store::begin()/commit(). On an error it still commits what was written before it
// (each response or pair is whole: nothing computed is lost) and rethrows the error.
template <class Fn>
void in_batch(Store& store, Fn&& fn) {
  store.begin();
  try {
    fn();
    store.commit();
  } catch (...) {
    try {
      store.commit();
    } catch (...) {
    }
    throw;
  }
}

}  // namespace rdpt::detail
