package verbs

// The grammars of the tree's ctl files (and of the files that take one
// line before they are read: a container's logs, images/save).
var (
	// Containers is containers/ctl.
	Containers = Grammar{Create{}, ContainerPrune{}}
	// Container is the ctl of a container (and containers/clone, whose
	// writes go to the new container's ctl).
	Container = Grammar{Create{}, ContainerStart{}, ContainerStop{}, ContainerRestart{}, ContainerKill{},
		ContainerPause{}, ContainerResume{}, ContainerResize{}, ContainerRm{}, ContainerRename{}, ContainerCommit{},
		ContainerUpdate{}}
	// Exec is the ctl of an exec (and a container's exec/clone).
	Exec = Grammar{ExecCreate{}, ExecStart{}, ExecKill{}, ExecResize{}}
	// ContainerLogs is the options line of a container's logs.
	ContainerLogs = Grammar{Logs{}}

	// Images is images/ctl.
	Images = Grammar{ImagePull{}, ImagePush{}, ImageTag{}, ImageRm{}, ImageLoad{}, ImageSave{}, ImagePrune{},
		ImageLogin{}, ImageLogout{}, ImageResolve{}}
	// Image is the ctl of an image directory (by tag or by id).
	Image = Grammar{ImageDirTag{}, ImageDirRm{}, ImageDirPush{}}
	// Archive is the line written to images/save.
	Archive = Grammar{ArchiveSave{}}
	// Transfers is what images/pulls/clone and images/pushes/clone take
	// (each its own verb).
	Transfers = Grammar{ImagePull{}, ImagePush{}}
	// Transfer is the ctl of a pull or push job.
	Transfer = Grammar{TransferCancel{}}

	// Networks is networks/ctl.
	Networks = Grammar{NetworkCreate{}, NetworkRm{}, NetworkPrune{}}
	// Network is the ctl of a network.
	Network = Grammar{NetworkConnect{}, NetworkDisconnect{}, NetworkDirRm{}}
	// Volumes is volumes/ctl.
	Volumes = Grammar{VolumeCreate{}, VolumeRm{}, VolumePrune{}}
	// Volume is the ctl of a volume.
	Volume = Grammar{VolumeDirRm{}}

	// Builds is builds/ctl.
	Builds = Grammar{BuildPrune{}}
	// BuildJob is the ctl of a build job (and builds/clone).
	BuildJob = Grammar{Build{}, Import{}, BuildStart{}, BuildCancel{}}
)
