package org.voxflow.cuda;

import org.bytedeco.javacpp.Pointer;

/** A JavaCPP pointer at a raw device address, for the cuBLAS presets (which take Pointer arguments). */
final class DevicePointer extends Pointer {
    DevicePointer(long address) { this.address = address; }
}
