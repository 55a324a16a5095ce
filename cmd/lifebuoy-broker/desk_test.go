package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitDeskFlags(t *testing.T) {
	in := []string{"-data", "d", "-oidc-issuer", "https://idp", "--oidc-client-id=desk", "-no-desk", "-https-listen", ":443",
		"-console-idle", "1h", "-oidc-create-accounts=false", "-anonymous-viewers=false"}
	desk, rest := splitDeskFlags(in)
	if want := []string{"-oidc-issuer", "https://idp", "--oidc-client-id=desk", "-no-desk", "-console-idle", "1h", "-oidc-create-accounts=false"}; !reflect.DeepEqual(desk, want) {
		t.Errorf("desk %q", desk)
	}
	if want := []string{"-data", "d", "-https-listen", ":443", "-anonymous-viewers=false"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("rest %q", rest)
	}
	var errb strings.Builder
	c, err := parseDeskFlags(desk, &errb)
	if err == nil || !strings.Contains(err.Error(), "-oidc-redirect-url") {
		t.Fatalf("OIDC without a redirect URL: %v", err)
	}
	c, err = parseDeskFlags([]string{"-console-idle", "1h", "-oidc-scopes", "profile, email,groups"}, &errb)
	if err != nil || c.sessionIdle.Hours() != 1 || !reflect.DeepEqual(splitList(c.oidcScopes), []string{"profile", "email", "groups"}) {
		t.Fatalf("%+v %v", c, err)
	}
}
