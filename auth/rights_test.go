package auth

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, want string
		ok            bool
	}{
		{"users.read", "users.read", true},
		{"users.read", "users.write", false},
		{"users.read", "Users.read", false},
		{"users.read", "users", false},
		{"users.read", "users.read.x", false},
		{"users", "users.read", false},
		{"users.*", "users.read", true},
		{"users.*", "users.write", true},
		{"users.*", "users", false},
		{"users.*", "usersx.read", false},
		{"users.*", "posts.read", false},
		{"*.read", "users.read", true},
		{"*.read", "gateway.read", true},
		{"*.read", "users.write", false},
		{"*.read", "sales.orders.read", false},
		{"*.read", "read", false},
		{"*", "users.read", true},
		{"*", "gateway.rpc.execute", true},
		{"*", "anything", true},
		{"gateway.*", "gateway.read", true},
		{"gateway.*", "gateway.query", true},
		{"gateway.*", "gateway.rpc.execute", true},
		{"gateway.*", "management.read", false},
		{"gateway.read", "gateway.read", true},
		{"gateway.read", "gateway.write", false},
		{"gateway.rpc.*", "gateway.rpc.execute", true},
		{"gateway.*.execute", "gateway.rpc.execute", true},
		{"gateway.*.execute", "gateway.rpc.other", false},
		{"*.*", "users.read", true},
		{"*.*", "users", false},
		{"management.read", "management.read", true},
		{"pipelines.run", "pipelines.run", true},
		{"pipelines.run", "pipelines.runx", false},
		{"users.read", "*.read", false}, // '*' in the wanted right is literal
		{"", "users.read", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.want); got != tt.ok {
			t.Errorf("Match(%q, %q): got %v, want %v", tt.pattern, tt.want, got, tt.ok)
		}
	}
}

func TestAllowsTable(t *testing.T) {
	tests := []struct {
		name    string
		granted []string
		schema  string
		table   string
		action  Action
		want    bool
	}{
		{"exact", []string{"users.read"}, "", "users", ActionRead, true},
		{"exact other action", []string{"users.read"}, "", "users", ActionWrite, false},
		{"exact other table", []string{"users.read"}, "", "posts", ActionRead, false},
		{"table wildcard", []string{"users.*"}, "", "users", ActionDelete, true},
		{"action wildcard", []string{"*.read"}, "", "orders", ActionRead, true},
		{"action wildcard other action", []string{"*.read"}, "", "orders", ActionWrite, false},
		{"star", []string{"*"}, "", "orders", ActionDelete, true},
		{"gateway action", []string{"gateway.write"}, "", "orders", ActionWrite, true},
		{"gateway action other", []string{"gateway.write"}, "", "orders", ActionDelete, false},
		{"gateway star", []string{"gateway.*"}, "", "orders", ActionDelete, true},
		{"none", nil, "", "users", ActionRead, false},
		{"unrelated fixed rights", []string{"gateway.query", "management.read", "pipelines.run"}, "", "users", ActionRead, false},
		{"qualified literal", []string{"sales.orders.read"}, "sales", "orders", ActionRead, true},
		{"qualified literal other action", []string{"sales.orders.read"}, "sales", "orders", ActionWrite, false},
		{"qualified action star", []string{"sales.orders.*"}, "sales", "orders", ActionWrite, true},
		{"qualified schema star not applied", []string{"sales.*"}, "sales", "orders", ActionRead, false},
		{"qualified unqualified name not applied", []string{"orders.read"}, "sales", "orders", ActionRead, false},
		{"qualified star-dot-action not applied to table", []string{"*.orders.read"}, "sales", "orders", ActionRead, false},
		{"qualified gateway", []string{"gateway.read"}, "sales", "orders", ActionRead, true},
		{"qualified gateway star", []string{"gateway.*"}, "sales", "orders", ActionDelete, true},
		{"qualified star-read via gateway.read", []string{"*.read"}, "sales", "orders", ActionRead, true},
		{"qualified star", []string{"*"}, "sales", "orders", ActionWrite, true},
		{"qualified other schema", []string{"hr.orders.read"}, "sales", "orders", ActionRead, false},
		{"several, one fits", []string{"posts.read", "users.write"}, "", "users", ActionWrite, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowsTable(tt.granted, tt.schema, tt.table, tt.action); got != tt.want {
				t.Errorf("AllowsTable(%v, %q, %q, %s): got %v, want %v", tt.granted, tt.schema, tt.table, tt.action, got, tt.want)
			}
		})
	}
}

func TestActionFor(t *testing.T) {
	for give, want := range map[string]Action{"fetch": ActionRead, "insert": ActionWrite, "update": ActionWrite, "upsert": ActionWrite, "delete": ActionDelete} {
		if got, ok := ActionFor(give); !ok || got != want {
			t.Errorf("ActionFor(%q): got %q %v, want %q", give, got, ok, want)
		}
	}
	if _, ok := ActionFor("query"); ok {
		t.Error("ActionFor(query): got ok, want none (query has the fixed right gateway.query)")
	}
}

func TestValidRight(t *testing.T) {
	long := ""
	for len(long) < 129 {
		long += "a"
	}
	tests := []struct {
		give string
		want bool
	}{
		{"users.read", true},
		{"*", true},
		{"gateway.rpc.execute", true},
		{"my_table.*", true},
		{"Users2.read", true},
		{"", false},
		{".read", false},
		{"users.", false},
		{"users..read", false},
		{"users.read;drop table api_keys", false},
		{"users read", false},
		{"users-x.read", false},
		{"users.read'", false},
		{long, false},
		{long[:128], true},
	}
	for _, tt := range tests {
		if got := ValidRight(tt.give); got != tt.want {
			t.Errorf("ValidRight(%q): got %v, want %v", tt.give, got, tt.want)
		}
	}
}
