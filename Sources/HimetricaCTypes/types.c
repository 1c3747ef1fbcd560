// The header holds only types; this file gives SwiftPM a source to build.
