// `sockhost status`: the supervisor's JSON answer (Supervisor::status_json) as text for a person.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <string>
#include <string_view>

namespace sockhost {

// The status JSON as lines of text; an error if it is not the JSON the supervisor sends.
Result<std::string> format_status(std::string_view json_text);

}  // namespace sockhost
