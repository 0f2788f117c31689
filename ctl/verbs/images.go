package verbs

// ImagePull is pull on images/ctl and on images/pulls/clone: a transfer
// job. Auth is docker's X-Registry-Auth (base64url of its AuthConfig JSON),
// the credentials of that job only.
type ImagePull struct {
	Ref      string `arg:"REF"`
	Platform string `ctl:"platform" usage:"OS/ARCH[/VARIANT]"`
	Auth     string `ctl:"auth" usage:"CREDENTIALS"`
}

// ImagePush is push on images/ctl and on images/pushes/clone.
type ImagePush struct {
	Ref  string `arg:"REF"`
	Auth string `ctl:"auth" usage:"CREDENTIALS"`
}

// ImageTag is tag on images/ctl.
type ImageTag struct {
	Src string `arg:"SRC"`
	Dst string `arg:"DST"`
}

// ImageRm is rm on images/ctl (docker rmi).
type ImageRm struct {
	Ref   string `arg:"REF"`
	Force bool   `word:"force"`
}

// ImageLoad is load on images/ctl: an archive at a path of the daemon's.
type ImageLoad struct {
	Path string `arg:"PATH"`
}

// ImageSave is save on images/ctl: an archive written at a path of the
// daemon's.
type ImageSave struct {
	Refs []string `arg:"REF"`
	Path string   `arg:"PATH"`
}

// ImagePrune is prune on images/ctl: dangling images, or all unused ones.
type ImagePrune struct {
	All bool `word:"all"`
}

// ImageLogin is login on images/ctl; NoSave checks the credentials and
// keeps nothing (POST /auth).
type ImageLogin struct {
	Server   string `arg:"SERVER,optional"`
	User     string `ctl:"user,required" usage:"USER"`
	Password string `ctl:"password,required" usage:"PASSWORD"`
	NoSave   bool   `ctl:"save,inverse"`
}

// ImageLogout is logout on images/ctl.
type ImageLogout struct {
	Server string `arg:"SERVER,optional"`
}

// ImageResolve is resolve on images/ctl: the reply is the image id of a
// reference, an id or an id prefix.
type ImageResolve struct {
	Ref string `arg:"REF"`
}

// ImageDirTag is tag on the ctl of an image directory.
type ImageDirTag struct {
	Dst string `arg:"DST"`
}

// ImageDirRm is rm on the ctl of an image directory.
type ImageDirRm struct {
	Force bool `word:"force"`
}

// ImageDirPush is push on the ctl of a tag directory.
type ImageDirPush struct{}

// ArchiveSave is save written to images/save before the archive is read.
type ArchiveSave struct {
	Refs []string `arg:"REF"`
}

// TransferCancel is cancel on the ctl of a pull or push job.
type TransferCancel struct{}

func (ImagePull) Verb() string      { return "pull" }
func (ImagePush) Verb() string      { return "push" }
func (ImageTag) Verb() string       { return "tag" }
func (ImageRm) Verb() string        { return "rm" }
func (ImageLoad) Verb() string      { return "load" }
func (ImageSave) Verb() string      { return "save" }
func (ImagePrune) Verb() string     { return "prune" }
func (ImageLogin) Verb() string     { return "login" }
func (ImageLogout) Verb() string    { return "logout" }
func (ImageResolve) Verb() string   { return "resolve" }
func (ImageDirTag) Verb() string    { return "tag" }
func (ImageDirRm) Verb() string     { return "rm" }
func (ImageDirPush) Verb() string   { return "push" }
func (ArchiveSave) Verb() string    { return "save" }
func (TransferCancel) Verb() string { return "cancel" }
