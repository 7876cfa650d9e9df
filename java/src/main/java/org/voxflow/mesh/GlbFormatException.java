package org.voxflow.mesh;

import java.io.IOException;

/** A GLB file that is malformed or breaks a glTF 2.0 rule {@link GlbReader} checks. */
public final class GlbFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public GlbFormatException(String message) { super(message); }

    public GlbFormatException(String message, Throwable cause) { super(message, cause); }
}
