// Stand-in for std::ios_base_library_init(), which libstdc++ gained with GLIBCXX_3.4.32
// (GCC 13). libLibTorchSharp.so references it only to make sure the standard streams are
// constructed; including <iostream> here does that through the usual static initializer.
#include <iostream>

namespace std {
__attribute__((visibility("default"))) void ios_base_library_init() {}
}
