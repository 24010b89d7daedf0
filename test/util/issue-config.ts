// The home agent configuration given in issue 4, verbatim: the config unit tests and the scapy
// interop test against a running HA both start from it.
export const ISSUE_HA_CONFIG = `config roamd 'main'
	option role 'ha'
	option listen '127.0.0.1'
	option port '4434'
	option control_socket '/tmp/roamd-ha.sock'
	option dataplane 'none'

config home_agent
	option address '10.1.0.1'
	option home_network '10.1.0.0/24'

config mobile_node
	option home_address '10.1.0.50'
	option nai 'alice@corp.example'
	option spi '256'
	option algorithm 'hmac-md5'
	option key '00112233445566778899aabbccddeeff'
	option replay 'timestamp'
`;
