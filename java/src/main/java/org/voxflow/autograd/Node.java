package org.voxflow.autograd;

import org.voxflow.tensor.GradNode;
import org.voxflow.tensor.Tensor;

/** One recorded op: its inputs and the rule that turns the output's gradient into the inputs' gradients. */
final class Node implements GradNode {
    final String op;
    final Tensor[] inputs;
    final Backward rule;

    Node(String op, Tensor[] inputs, Backward rule) {
        this.op = op;
        this.inputs = inputs;
        this.rule = rule;
    }

    /** Vector-Jacobian product: one gradient per input (null where the input needs none). */
    interface Backward { Tensor[] apply(Tensor gradOut); }

    @Override public String toString() { return op; }
}
