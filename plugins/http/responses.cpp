#include "responses.hpp"

namespace {

constexpr std::string_view kErrorContentType = "text/plain; charset=utf-8";

std::string build_response(std::string_view status, std::string_view content_type,
                           std::string_view extra_headers, ConnectionReply connection,
                           std::string_view body) {
    std::string response = "HTTP/1.1 ";
    response += status;
    response += "\r\nServer: sockhost\r\nContent-Type: ";
    response += content_type;
    response += "\r\nContent-Length: ";
    response += std::to_string(body.size());
    response += "\r\n";
    response += extra_headers;
    if (connection == ConnectionReply::keep_alive_http10) response += "Connection: keep-alive\r\n";
    if (connection == ConnectionReply::close) response += "Connection: close\r\n";
    response += "\r\n";
    response += body;
    return response;
}

std::string closing_error(std::string_view status) {
    std::string body(status.substr(4));  // "400 Bad Request" -> "Bad Request\n"
    body += '\n';
    return build_response(status, kErrorContentType, "", ConnectionReply::close, body);
}

}  // namespace

Responses::Responses(std::string_view body, std::string_view content_type)
    : body_size_(body.size()),
      bad_request_(closing_error("400 Bad Request")),
      request_timeout_(closing_error("408 Request Timeout")),
      content_too_large_(closing_error("413 Content Too Large")),
      header_fields_too_large_(closing_error("431 Request Header Fields Too Large")),
      not_implemented_(closing_error("501 Not Implemented")),
      version_not_supported_(closing_error("505 HTTP Version Not Supported")) {
    for (const ConnectionReply connection :
         {ConnectionReply::keep_alive, ConnectionReply::keep_alive_http10, ConnectionReply::close}) {
        ok_[index(connection)] = build_response("200 OK", content_type, "", connection, body);
        method_not_allowed_[index(connection)] =
            build_response("405 Method Not Allowed", kErrorContentType, "Allow: GET, HEAD\r\n",
                           connection, "Method Not Allowed\n");
    }
}
