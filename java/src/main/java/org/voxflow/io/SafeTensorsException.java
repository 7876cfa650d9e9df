package org.voxflow.io;

import java.nio.file.Path;

/**
 * The one exception for a safetensors file that is malformed or does not hold what was asked for:
 * thrown by {@link SafeTensorsFile#open} for every validation failure (truncated file, bad header
 * length, header not UTF-8 or not JSON, bad entries, data offsets out of range, overlapping,
 * leaving gaps or not covering the data buffer, bad {@code __metadata__}), by the typed accessors of {@link SafeTensorsFile} (unknown tensor, wrong
 * dtype, too many elements for a Java array, I64 value out of int range, BOOL byte not 0/1), and by
 * {@link SafeTensorsWriter#write} when a tensor source produces the wrong number of bytes.
 *
 * <p>The message names the file, the tensor where there is one, and the problem. I/O failures
 * (missing file, permission) are reported as {@link java.io.IOException} instead.
 */
public final class SafeTensorsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final String tensor;

    public SafeTensorsException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public SafeTensorsException(Path file, String tensor, String problem, Throwable cause) {
        super(message(file, tensor, problem), cause);
        this.file = String.valueOf(file);
        this.tensor = tensor;
    }

    /** The file, as given to open or write. */
    public String file() { return file; }

    /** The tensor concerned, or null when the problem is not about one tensor. */
    public String tensor() { return tensor; }

    private static String message(Path file, String tensor, String problem) {
        String where = "safetensors file " + file;
        if (tensor != null) where += ", tensor " + JsonParser.quote(tensor);
        return where + ": " + problem;
    }
}
