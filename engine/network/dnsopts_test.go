package network

import "testing"

func TestWithDNS(t *testing.T) {
	host := "nameserver 10.0.0.1\nsearch corp.local\noptions edns0\n# kept\n"
	for _, tc := range []struct {
		name     string
		c        Settings
		embedded bool
		want     string
	}{
		{"none", Settings{}, false, host},
		{"all", Settings{DNS: []string{"192.0.2.53", "192.0.2.54"}, DNSSearch: []string{"a.example", "b.example"}, DNSOptions: []string{"ndots:3"}}, false,
			"# kept\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch a.example b.example\noptions ndots:3\n"},
		{"search none", Settings{DNSSearch: []string{"."}}, false, "nameserver 10.0.0.1\noptions edns0\n# kept\n"},
		{"embedded", Settings{DNS: []string{"192.0.2.53"}, DNSSearch: []string{"a.example"}}, true,
			"nameserver 10.0.0.1\noptions edns0\n# kept\nsearch a.example\noptions ndots:0\n"},
		{"embedded ndots", Settings{DNSOptions: []string{"ndots:5"}}, true, "nameserver 10.0.0.1\nsearch corp.local\n# kept\noptions ndots:5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withDNS([]byte(host), tc.c, tc.embedded)); got != tc.want {
				t.Errorf("withDNS:\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
