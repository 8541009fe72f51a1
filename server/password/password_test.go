package password

import (
	"strings"
	"testing"
)

// fast keeps the tests quick; the format and the checks are the same.
var fast = Hasher{Params: Params{MemoryKiB: 64, Time: 1, Threads: 1}}

func TestHashVerify(t *testing.T) {
	h, err := fast.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := fast.Verify(h, "correct horse"); err != nil || !ok {
		t.Fatalf("Verify(right password) = %v, %v", ok, err)
	}
	if ok, err := fast.Verify(h, "correct horsE"); err != nil || ok {
		t.Fatalf("Verify(wrong password) = %v, %v", ok, err)
	}
	h2, _ := fast.Hash("correct horse")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyUsesStoredParams(t *testing.T) {
	h, _ := fast.Hash("pw")
	if ok, _ := (Hasher{Params: Recommended}).Verify(h, "pw"); !ok {
		t.Fatal("a hash made with other parameters no longer verifies")
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := fast.Verify(s, "pw"); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", s)
		}
	}
}
