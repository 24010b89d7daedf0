# Fake /lib/functions.sh: the config_* helpers over $FAKE_UCI/<package>.sh, which sets
# CONFIG_SECTIONS, CONFIG_<section>_TYPE and CONFIG_<section>_<option> as OpenWrt's does.
append() {
	local var="$1" value="$2" sep="${3:- }"
	eval "export -- \"$var=\${$var:+\${$var}\${value:+\$sep}}\$value\""
}
list_contains() {
	local var="$1" str="$2" val
	eval "val=\" \${$var} \""
	[ "${val%% $str *}" != "$val" ]
}
config_load() {
	local s
	for s in $CONFIG_SECTIONS; do unset "CONFIG_${s}_TYPE"; done
	CONFIG_SECTIONS=
	. "$FAKE_UCI/$1.sh"
}
config_get() {
	case "$3" in
		"") eval "echo \"\${CONFIG_${1}_${2}:-\${4}}\"" ;;
		*) eval "export -- \"$1=\${CONFIG_${2}_${3}:-\${4}}\"" ;;
	esac
}
config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in 1|on|true|yes|enabled) _tmp=1 ;; *) _tmp=0 ;; esac
	export -- "$1=$_tmp"
}
config_foreach() {
	local function="$1" type="$2" section cfgtype
	shift; shift
	for section in $CONFIG_SECTIONS; do
		eval "cfgtype=\${CONFIG_${section}_TYPE}"
		[ -n "$type" ] && [ "$type" != "$cfgtype" ] && continue
		eval "$function \"\$section\" \"\$@\""
	done
}
