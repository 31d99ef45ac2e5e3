using EdgeSelector.Core.Exploration;
using EdgeSelector.Core.Features;
using EdgeSelector.Core.Models;
using EdgeSelector.Core.Selection;

namespace EdgeSelector.Core.Tests;

public class SelectionEngineTests
{
    private const long Day = 24 * 3600 * 1000L;

    [Theory]
    [MemberData(nameof(PolicyTests.AllPolicies), MemberType = typeof(PolicyTests))]
    public void Select_10000Selections_AllocateNothing(PolicyKind policy)
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = policy });
        var blob = TestModels.Random(32, 64, seed: 1).Serialize(WeightPrecision.Int8);
        var member = TestModels.Member(1);
        var title = TestModels.Title();
        Run(engine, blob, ref member, title, 100); // warm up: JIT, statics
        var before = GC.GetAllocatedBytesForCurrentThread();
        var checksum = Run(engine, blob, ref member, title, 10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(0u, checksum);
    }

    [Fact]
    public void Select_SameMemberSameWindow_SameImage()
    {
        var engine = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Uniform, StickinessWindow = TimeSpan.FromDays(1) });
        var blob = TestModels.Random(16, 64, seed: 2).Serialize();
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var changed = 0;
        for (ulong m = 0; m < 500; m++)
        {
            var member = TestModels.Member(m);
            var t0 = 1_700_000_000_000L;
            var bucket = engine.Random.Bucket(m, 42, t0);
            var first = engine.Select(view, member, TestModels.Title(), t0).ImageId;
            for (var t = t0; t < t0 + Day; t += 3_600_000)
            {
                var image = engine.Select(view, member, TestModels.Title(), t).ImageId;
                if (engine.Random.Bucket(m, 42, t) == bucket)
                {
                    Assert.Equal(first, image);
                }
            }

            // One window later the draw is a new one.
            changed += engine.Select(view, member, TestModels.Title(), t0 + Day).ImageId != first ? 1 : 0;
        }

        // With 16 uniform images a new draw keeps the same image 1/16 of the time.
        Assert.InRange(changed, 400, 500);
    }

    [Fact]
    public void Bucket_PhasesDiffer_SoWindowsDoNotAllRollOverTogether()
    {
        var random = new StickyRandom(1, TimeSpan.FromHours(24));
        var rolled = 0;
        for (ulong m = 0; m < 1000; m++)
        {
            rolled += random.Bucket(m, 7, Day + 3_600_000) != random.Bucket(m, 7, Day) ? 1 : 0;
        }

        // In one hour of a 24-hour window about 1/24 of the pairs roll over, not all or none.
        Assert.InRange(rolled, 15, 80);
    }

    [Theory]
    [MemberData(nameof(PolicyTests.AllPolicies), MemberType = typeof(PolicyTests))]
    public void Select_TwoEnginesSameSeed_DecideIdentically(PolicyKind policy)
    {
        var options = new SelectionOptions { Policy = policy, Seed = 1234 };
        var a = new SelectionEngine(options);
        var b = new SelectionEngine(options with { });
        var other = new SelectionEngine(options with { Seed = 4321 });
        var blob = TestModels.Random(16, 64, seed: 3, weightScale: 0.002f).Serialize();
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        var differs = 0;
        for (ulong m = 0; m < 1000; m++)
        {
            var member = TestModels.Member(m, (int)m);
            var da = a.Select(view, member, TestModels.Title(), 1_700_000_000_000);
            var db = b.Select(view, member, TestModels.Title(), 1_700_000_000_000);
            Assert.Equal(da, db);
            differs += other.Select(view, member, TestModels.Title(), 1_700_000_000_000).ImageId != da.ImageId ? 1 : 0;
        }

        if (policy is PolicyKind.Uniform or PolicyKind.Thompson or PolicyKind.EpsilonGreedy)
        {
            Assert.True(differs > 0, "a different seed must give different draws");
        }
    }

    [Fact]
    public void ColdImage_WidePrior_IsExploredByThompsonAndUcb()
    {
        var space = new FeatureSpace(64, 7, FeatureSpace.CurrentSchema);
        var model = new TitleModel(5, 2, 501, space) { PriorMean = 0.08f };
        for (uint i = 0; i < 7; i++)
        {
            // Well-known images: take rates 0.09-0.10, tight posteriors.
            var image = new ImageModel(501 + i, 64) { Bias = 0.09f + (i * 0.0015f), BiasVariance = 1e-6f };
            model.Images.Add(image);
        }

        var cold = model.AddColdImage(600, ColdStartPrior.Default, "new", "comedy");
        Assert.True(cold.Cold);
        var blob = model.Serialize();
        Assert.True(ModelView.TryOpen(blob, ModelCheck.Full, out var view, out _));
        Assert.Equal(ImageFlags.Cold, view.ImageFlags[7]);

        var thompson = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Thompson });
        var greedy = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Greedy });
        var chosen = 0;
        for (ulong m = 0; m < 2000; m++)
        {
            var member = TestModels.Member(m);
            chosen += thompson.Select(view, member, TestModels.Title(5), 0).ImageId == 600 ? 1 : 0;
            Assert.NotEqual(600u, greedy.Select(view, member, TestModels.Title(5), 0).ImageId);
        }

        // Its prior mean is below the others' but its uncertainty is wide: Thompson tries it often.
        Assert.InRange(chosen, 2000 * 0.2, 2000 * 0.6);
        var ucb = new SelectionEngine(new SelectionOptions { Policy = PolicyKind.Ucb, UcbAlpha = 1f });
        Assert.Equal(600u, ucb.Select(view, TestModels.Member(1), TestModels.Title(5), 0).ImageId);
    }

    [Fact]
    public void Options_OutOfRange_AreRejectedAtConstruction()
    {
        Assert.Throws<ArgumentException>(() => new SelectionEngine(new SelectionOptions { Epsilon = 1.5f }));
        Assert.Throws<ArgumentException>(() => new SelectionEngine(new SelectionOptions { Temperature = 0 }));
        Assert.Throws<ArgumentException>(() => new SelectionEngine(new SelectionOptions { UcbAlpha = float.NaN }));
        Assert.Throws<ArgumentException>(() => new SelectionEngine(new SelectionOptions { StickinessWindow = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => new SelectionEngine(new SelectionOptions { Policy = (PolicyKind)42 }));
    }

    private static uint Run(SelectionEngine engine, byte[] blob, ref MemberContext member, TitleContext title, int count)
    {
        ModelView.TryOpen(blob, ModelCheck.Structure, out var view, out _);
        uint checksum = 0;
        for (var i = 0; i < count; i++)
        {
            member.MemberId = (ulong)i;
            checksum += engine.Select(view, member, title, 1_700_000_000_000 + i).ImageId;
        }

        return checksum;
    }
}
