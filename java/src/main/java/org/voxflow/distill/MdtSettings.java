package org.voxflow.distill;

/**
 * MDT-dist settings, named as in the reference trainer. Defaults are the paper's configs (w_VM 40, w_VD 100,
 * interval 0.01, d_norm on); DESIGN.md records that small models want w = 1 and lr 2e-6 instead: nothing is
 * baked in. A guidance list means "draw one value per use", as the reference does with np.random.choice.
 *
 * @param mode        discrete (finite-difference VM), continuous (JVP VM) or cm (consistency-model baseline)
 * @param interval    d, the finite-difference step in t
 * @param multiphase  phases of the CM baseline (targets at linspace(0, 1, multiphase, endpoint=False))
 */
public record MdtSettings(Mode mode, double interval, double sigmaMin, double[] cfgVm, double[] cfgVd, double lambdaVm,
                          double lambdaVd, boolean dNorm, int multiphase, double tMean, double tStd) {
    public enum Mode { DISCRETE, CONTINUOUS, CM;
        public static Mode parse(String s) {
            return switch (s.toLowerCase()) {
                case "discrete" -> DISCRETE;
                case "continuous" -> CONTINUOUS;
                case "cm" -> CM;
                default -> throw new IllegalArgumentException("unknown distill type '" + s + "' (discrete, continuous, cm)");
            };
        }
    }

    public MdtSettings {
        if (interval <= 0 || interval >= 1) throw new IllegalArgumentException("interval must be in (0, 1), got " + interval);
        if (cfgVm.length == 0 || cfgVd.length == 0) throw new IllegalArgumentException("guidance lists must not be empty");
        if (multiphase < 1) throw new IllegalArgumentException("multiphase must be >= 1");
        cfgVm = cfgVm.clone();
        cfgVd = cfgVd.clone();
    }

    public static MdtSettings paper(Mode mode) {
        return new MdtSettings(mode, 0.01, 1e-5, new double[] {40}, new double[] {100}, 1, 1, true, 1, 1, 1);
    }

    public MdtSettings withGuidance(double vm, double vd) {
        return new MdtSettings(mode, interval, sigmaMin, new double[] {vm}, new double[] {vd}, lambdaVm, lambdaVd, dNorm, multiphase, tMean, tStd);
    }
}
