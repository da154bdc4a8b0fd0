/**
 * What a target may point at: a DNS host name (the app's route) and a URL path. Shared by
 * rendering (which routes are usable), the bind `path` parameter and the target file schema.
 */

/**
 * Letters, digits, "-" and "_" in dot-separated labels of 1-63 characters, 253 at most in all:
 * no port, scheme, path or wildcard. "_" because the Cloud Controller accepts it in route hosts
 * and the gorouter routes it.
 */
export const HOST_NAME_PATTERN = '^(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*$';
export const HOST_NAME_REGEX = new RegExp(HOST_NAME_PATTERN);

/** Absolute; no "." or ".." segment, no "//", query, fragment, whitespace or control character. */
export const PATH_PATTERN = "^(?!.*/\\.\\.?(/|$))(?!.*//)/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$";
/** The bind `path` parameter, `__metrics_path__`, and a route's own path (which must not end in "/" as well). */
export const PATH_REGEX = new RegExp(PATH_PATTERN);

/** The bind `path` parameter. */
export const MAX_PATH_PARAMETER_LENGTH = 256;
/** The route's own path, beyond which the route is not used for scraping. */
export const MAX_ROUTE_PATH_LENGTH = 512;
/** `__metrics_path__`: route path + parameter path (or `/metrics`) fits with room to spare. */
export const MAX_METRICS_PATH_LENGTH = 1024;
