package cellib

import "testing"

// Behaviour verified against Cerbos 0.55.0 (see also testdata/cerbos_repl.tsv).
func TestInIPAddrRange(t *testing.T) {
	runCases(t, []celCase{
		{expr: `"192.168.0.5".inIPAddrRange("192.168.0.0/24")`, want: true},
		{expr: `"192.168.1.5".inIPAddrRange("192.168.0.0/24")`, want: false},
		{expr: `"2001:0db8:0000:0000:0000:0000:1000:0000".inIPAddrRange("2001:db8::/48")`, want: true},
		{expr: `"2001:DB8::1".inIPAddrRange("2001:db8::/32")`, want: true},
		// Host bits in the network and leading zeros in the prefix length are fine.
		{expr: `"192.168.0.5".inIPAddrRange("192.168.0.1/24")`, want: true},
		{expr: `"1.2.3.4".inIPAddrRange("1.2.3.0/024")`, want: true},
		// IPv4 and IPv4-mapped IPv6 are interchangeable; native IPv6 networks
		// never hold IPv4 addresses and the other way round.
		{expr: `"::ffff:192.168.0.5".inIPAddrRange("192.168.0.0/24")`, want: true},
		{expr: `"192.168.0.5".inIPAddrRange("::ffff:192.168.0.0/120")`, want: true},
		{expr: `"192.168.0.5".inIPAddrRange("::/0")`, want: false},
		{expr: `"::1".inIPAddrRange("0.0.0.0/0")`, want: false},
		// Errors: the address is checked first.
		{expr: `"x".inIPAddrRange("bad")`, wantErr: "invalid IP address: x"},
		{expr: `"".inIPAddrRange("0.0.0.0/0")`, wantErr: "invalid IP address: "},
		{expr: `"01.2.3.4".inIPAddrRange("1.2.3.0/24")`, wantErr: "invalid IP address: 01.2.3.4"},
		{expr: `"fe80::1%eth0".inIPAddrRange("fe80::/10")`, wantErr: "invalid IP address"},
		{expr: `" 1.2.3.4".inIPAddrRange("1.2.3.0/24")`, wantErr: "invalid IP address"},
		{expr: `"1.2.3.4".inIPAddrRange("1.2.3.4")`, wantErr: "invalid CIDR address: 1.2.3.4"},
		{expr: `"1.2.3.4".inIPAddrRange("1.2.3.4/33")`, wantErr: "invalid CIDR address: 1.2.3.4/33"},
		{expr: `"1.2.3.4".inIPAddrRange("1.2.3.0/-1")`, wantErr: "invalid CIDR address"},
		{expr: `"1.2.3.4".inIPAddrRange("")`, wantErr: "invalid CIDR address: "},
		// Only the method form exists.
		{expr: `inIPAddrRange("1.2.3.4", "1.2.3.0/24")`, wantCompileErr: "found no matching overload"},
		{expr: `1.inIPAddrRange("1.2.3.0/24")`, wantCompileErr: "found no matching overload"},
		{expr: `dyn(1).inIPAddrRange("1.2.3.0/24")`, wantErr: "no such overload: inIPAddrRange(int, string)"},
	})
}
