package netdrv

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// TestDeleteLinkNoName: deleting the link of no name is an error, not the
// success that a missing link is.
func TestDeleteLinkNoName(t *testing.T) {
	testenv.NeedRoot(t) // netlink
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := DeleteLink(h, ""); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("DeleteLink of no name: %v, want invalid", err)
	}
	if err := DeleteLink(h, "efsnosuchlink0"); err != nil {
		t.Errorf("DeleteLink of a missing link: %v, want nil", err)
	}
}
