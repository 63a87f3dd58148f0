//! What lab clients ask for: a Zipf popularity law (rank r asked with weight 1/r^s), the shape
//! real DNS and web traffic have — a few names and objects asked constantly, a long tail once.

use rand::Rng;

/// Draws name indices 0..n with Zipf(s) popularity, by inverting the cumulative weights.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A law over `n` names (n >= 1) with exponent `s` (1.0 is the classic web/DNS fit).
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n.max(1))
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect::<Vec<_>>();
        Self { cumulative: cumulative.iter().map(|c| c / total).collect() }
    }

    /// One draw: the index of the name asked (0 is the most popular).
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cumulative.partition_point(|&c| c < u).min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn popular_names_dominate_and_every_name_can_come_up() {
        let zipf = Zipf::new(100, 1.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        // Rank 1 has weight 1/H(100) = 19.3 %; rank 2 half of that.
        assert!((18_000..20_500).contains(&counts[0]), "{}", counts[0]);
        assert!((8_800..10_500).contains(&counts[1]), "{}", counts[1]);
        assert!(counts[99] > 50, "the tail is asked too: {}", counts[99]);
    }
}
