# Fake procd.sh/jshn.sh: every procd_* and json_* call is appended to $FAKE_LOG, tab-separated.
_fake_rec() {
	local IFS='	'
	printf '%s\n' "$*" >> "$FAKE_LOG"
}
for _f in procd_open_instance procd_close_instance procd_set_param procd_append_param \
	procd_open_data procd_close_data procd_add_reload_trigger procd_add_interface_trigger \
	procd_add_raw_trigger procd_set_config_changed procd_send_signal procd_kill \
	json_add_object json_close_object json_add_array json_close_array json_add_string \
	json_add_int json_add_boolean; do
	eval "$_f() { _fake_rec $_f \"\$@\"; }"
done
procd_add_validation() {
	_fake_rec procd_open_validate
	"$@"
	_fake_rec procd_close_validate
}
# Same as OpenWrt's procd.sh, with validate_data from PATH (our fake) instead of /sbin.
uci_validate_section() {
	local _package="$1" _type="$2" _name="$3" _result _error
	shift; shift; shift
	_result=$(validate_data "$_package" "$_type" "$_name" "$@" 2> /dev/null)
	_error=$?
	eval "$_result"
	[ "$_error" = "0" ] || validate_data "$_package" "$_type" "$_name" "$@" 1> /dev/null
	return $_error
}
uci_load_validate() {
	local _package="$1" _type="$2" _name="$3" _function="$4" _option _result
	shift; shift; shift; shift
	for _option in "$@"; do
		eval "local ${_option%%:*}"
	done
	uci_validate_section "$_package" "$_type" "$_name" "$@"
	_result=$?
	[ -n "$_function" ] || return $_result
	eval "$_function \"\$_name\" \"\$_result\""
}
