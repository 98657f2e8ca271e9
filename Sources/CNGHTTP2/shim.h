// libnghttp2, the HTTP/2 library of curl, Apache httpd and nghttpx (Debian: libnghttp2-dev).
#include <nghttp2/nghttp2.h>
