//! The test signatures the oracle gives clamd, and the bodies they match (EICAR decoded at
//! run time, never stored in plain form). Read by the environment (the DB it writes), the
//! corpus and the fuzzer's generated inputs.

/// The EICAR MD5 hash signature (whole file, CLAMD-DET-1/-4). Loaded unsigned, so clamd reports
/// `Win.Test.EICAR_HDB-1.UNOFFICIAL` (CLAMD-DET-2).
pub const EICAR_HDB: &str = "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1\n";
/// The two oracle markers (CLAMD-DET-5).
pub const MARKER_A: &[u8] = b"CLAMD-ORACLE-MARKER-A";
pub const MARKER_B: &[u8] = b"CLAMD-ORACLE-MARKER-B";

/// The markers `.ndb` text (CLAMD-DET-5): `Oracle.Test.MarkerA-1:0:*:<hex>` and `-B`.
pub fn markers_ndb() -> String {
    format!(
        "Oracle.Test.MarkerA-1:0:*:{}\nOracle.Test.MarkerB-1:0:*:{}\n",
        hex::encode(MARKER_A),
        hex::encode(MARKER_B)
    )
}

/// The EICAR test file, decoded at run time from its XOR-0x5A form (never stored in plain).
pub fn eicar() -> Vec<u8> {
    const XOR_HEX: &str = "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270";
    hex::decode(XOR_HEX)
        .unwrap_or_default()
        .into_iter()
        .map(|b| b ^ 0x5a)
        .collect()
}
