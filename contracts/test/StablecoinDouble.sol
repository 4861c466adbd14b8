// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title StablecoinDouble
/// @notice Test double for an outside 6-decimal ERC20 reward token such as USDC (a boundary we don't own):
/// anyone may mint.
contract StablecoinDouble is ERC20 {
    constructor() ERC20("Stablecoin Double", "USDD") {}

    /// @notice Mints `amount` to `to`.
    /// @param to Recipient.
    /// @param amount Amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
