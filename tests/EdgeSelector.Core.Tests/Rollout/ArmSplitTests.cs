using EdgeSelector.Core.Rollout;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Tests.Rollout;

public class ArmSplitTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    [InlineData(0.3)]
    [InlineData(1.0)]
    public void ArmOf_OverManyMembers_SendsTheFractionToTheCandidate(double fraction)
    {
        var split = new ArmSplit(7, fraction);
        const int members = 200_000;
        var candidate = 0;
        for (ulong m = 1; m <= members; m++)
        {
            candidate += split.ArmOf(m) == Arm.Candidate ? 1 : 0;
        }

        // Binomial: 5 standard deviations (0 and 1 are exact).
        var sd = Math.Sqrt(fraction * (1 - fraction) / members);
        Assert.InRange((double)candidate / members, fraction - (5 * sd), fraction + (5 * sd));
    }

    [Fact]
    public void ArmOf_IsStickyAcrossInstances_AndGrowingTheFractionKeepsCandidateMembers()
    {
        var small = new ArmSplit(3, 0.1);
        var again = new ArmSplit(3, 0.1);
        var larger = new ArmSplit(3, 0.4);
        for (ulong m = 1; m <= 50_000; m++)
        {
            Assert.Equal(small.ArmOf(m), again.ArmOf(m));
            if (small.ArmOf(m) == Arm.Candidate)
            {
                Assert.Equal(Arm.Candidate, larger.ArmOf(m));
            }
        }
    }

    [Fact]
    public void ArmOf_AnotherCandidateVersion_ExposesOtherMembers()
    {
        var v3 = new ArmSplit(3, 0.2);
        var v4 = new ArmSplit(4, 0.2);
        int both = 0, v3Only = 0;
        for (ulong m = 1; m <= 100_000; m++)
        {
            var a = v3.ArmOf(m) == Arm.Candidate;
            var b = v4.ArmOf(m) == Arm.Candidate;
            both += a && b ? 1 : 0;
            v3Only += a ? 1 : 0;
        }

        // Independent splits overlap on ~0.2 of v3's members, not all of them.
        Assert.InRange((double)both / v3Only, 0.17, 0.23);
    }

    [Fact]
    public void ArmOf_IsIndependentOfTheStickyExplorationDraw()
    {
        // The candidate arm's members must not differ in their exploration draws (that would bias the comparison).
        var split = new ArmSplit(9, 0.5);
        var sticky = new StickyRandom(0x0EDC_5E1E_C7A5_7000, TimeSpan.FromHours(24));
        double sumCandidate = 0, sumControl = 0;
        int nCandidate = 0, nControl = 0;
        for (ulong m = 1; m <= 100_000; m++)
        {
            var u = StickyRandom.Uniform(sticky.Key(m, 1001, 1_700_000_000_000));
            if (split.ArmOf(m) == Arm.Candidate)
            {
                sumCandidate += u;
                nCandidate++;
            }
            else
            {
                sumControl += u;
                nControl++;
            }
        }

        // Mean of U(0,1) over ~50,000 members: sd 0.0013 each.
        Assert.InRange((sumCandidate / nCandidate) - (sumControl / nControl), -0.008, 0.008);
    }

    [Theory]
    [InlineData(-0.01)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void Constructor_FractionOutsideTheUnitInterval_Throws(double fraction) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArmSplit(1, fraction));
}
